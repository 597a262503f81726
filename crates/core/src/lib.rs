//! Foundations shared by both binaries.
