//! tandem-stack-multi-region
