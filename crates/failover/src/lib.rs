//! tandem-failover
