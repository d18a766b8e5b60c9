//! A Git smart-HTTP server on loopback: filled by the Git source work.
