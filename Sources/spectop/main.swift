import SpectralCore
print("spectop: BLAS core \(BLASRuntime.coreName)")
