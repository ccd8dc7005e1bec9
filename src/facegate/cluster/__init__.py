"""Many hosts on one database: nodes, camera leases with fencing epochs, cluster-wide stream
names and once-per-cluster jobs (docs/cluster.md)."""
