"""Exporters: the Prometheus exporter over the latest results, the InfluxDB writer."""
