"""The one exception type the probe raises for a problem the user can fix,
and the one warning it gives for a problem of its own that training survives."""


class ProbeError(ValueError):
    """A probe that cannot measure what it was given: the message says what is
    wrong (the device, the loss, the output file, the model) and what to do.
    Raised by ``Probe``'s check of its arguments, it lists every problem
    found, one a line, and its ``problems`` attribute holds them."""


class ProbeWarning(RuntimeWarning):
    """Something went wrong in the probe itself while training went on (the
    record could not be written, a step number went backwards): said once,
    never raised into the training loop."""
