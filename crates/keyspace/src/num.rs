//! Redis number parsing and formatting. Being written.
