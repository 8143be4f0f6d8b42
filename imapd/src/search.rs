//! SEARCH evaluation.
