//! Redis glob matching (stringmatchlen). Being written.
