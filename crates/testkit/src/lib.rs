//! tandem-testkit
