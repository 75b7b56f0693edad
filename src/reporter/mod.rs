//! Background span reporter (being written).
