"""The one exception type the probe raises for a problem the user can fix."""


class ProbeError(ValueError):
    """A probe that cannot measure what it was given: the message says what is
    wrong (the device, the loss, the output file, the model) and what to do."""
