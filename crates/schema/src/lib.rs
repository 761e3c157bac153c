//! tandem-schema
