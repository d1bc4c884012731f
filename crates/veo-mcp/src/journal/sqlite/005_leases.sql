-- Version 5: leases, so that of several processes sharing the journal one follows each task at
-- a time, and another takes it over when the lease runs out (its holder stopped).
ALTER TABLE submits ADD COLUMN lease_holder TEXT;
ALTER TABLE submits ADD COLUMN lease_until INTEGER
