import SpecTopApp

ProcessSetup.begin()
// OpenBLAS picks its kernels when it loads; a generic pick on a modern CPU
// costs ~5x, so re-execute once with the right OPENBLAS_CORETYPE first.
BLASCoreSelection.reexecIfNeeded()
SpectopCommand.runMain()
