//! `flotilla repo`: filled by the Git source work.
