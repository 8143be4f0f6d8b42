//! FETCH data items.
