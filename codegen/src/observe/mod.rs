//! Seeing the platform: the metrics the console exports and what is generated around
//! them — the Prometheus alert rules, their `promtool` tests and the Grafana dashboard.

pub mod names;
