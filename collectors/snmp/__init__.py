"""SNMP: a fast BER codec and USM for the hot path; pysnmp as the reference in tests."""
