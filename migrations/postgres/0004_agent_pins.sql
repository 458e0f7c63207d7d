-- Agents' PINs for logging in at any phone, as pbkdf2-sha256 hashes (never the PIN itself).
ALTER TABLE agents ADD COLUMN pin_hash TEXT;
