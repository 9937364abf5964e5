"""Call and SMS backends (SIP, Zadarma PBX) behind small typed protocols."""
