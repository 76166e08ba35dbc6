//! Benchmarks of sentinel-core (see benches/).
