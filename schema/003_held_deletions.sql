-- dirsyncd mirror, schema version 3: full syncs held back because they would delete too much.

-- Set when a directory's last full sync was held (max_delete_fraction, or zero users listed for a
-- directory that had some); cleared by the next full sync that is applied.
ALTER TABLE sync_state ADD COLUMN held_reason TEXT;
ALTER TABLE sync_state ADD COLUMN held_at TEXT;
