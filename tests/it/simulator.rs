//! filled by the simulator work
