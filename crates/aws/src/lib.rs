//! tandem-aws
