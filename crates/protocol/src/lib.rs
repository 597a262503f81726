//! Wire types and translation (no I/O).
