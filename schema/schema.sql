-- maildatd database schema.
--
-- The schema is a list of migrations.  Each starts at a marker line, two
-- dashes, "migration" and its number N = 1, 2, ... in order;
-- schema/embed.sh compiles them into the binaries and the store applies, in
-- one transaction, each one above PRAGMA user_version, which then holds the
-- number applied.
-- A released migration is never edited: change the schema by adding one.
--
-- Tables are singular and private to maildatd (the rule engine writes
-- alert); the plural VIEWS are the public interface (see product.md):
-- postoffices, crawls, alerts, routes, postoffice_history.  Times are
-- stored as integer microseconds since the epoch (UTC) in *_us columns and
-- shown by the views as ISO 8601 UTC text, 2026-11-24T02:39:27Z.

-- migration 1
PRAGMA application_id = 1296323661;	-- 0x4D44544D, "MDTM"

-- One SMB location (\\host\share[\path]) ever crawled.  The identity
-- columns hold what the last crawl that read MASTER.GLB found; they are NULL
-- until a crawl has found a postoffice here and are never erased by a failed
-- crawl.
CREATE TABLE location (
	id		INTEGER PRIMARY KEY,
	location	TEXT NOT NULL UNIQUE,	-- \\host[@port]\share[\path]
	host		TEXT NOT NULL,
	port		INTEGER NOT NULL DEFAULT 0,	-- 0: the default, 445
	share		TEXT NOT NULL,
	path		TEXT NOT NULL DEFAULT '',
	first_crawled_us INTEGER NOT NULL,	-- first crawl of any outcome
	last_crawled_us	INTEGER NOT NULL,	-- last crawl of any outcome
	last_crawl_id	INTEGER REFERENCES crawl (id) ON DELETE SET NULL,
	last_outcome	TEXT NOT NULL,
	last_error	TEXT,
	first_seen_us	INTEGER,		-- first crawl that found the postoffice
	last_seen_us	INTEGER,		-- last crawl that found it
	last_ok_us	INTEGER,		-- last crawl with outcome ok
	network		TEXT,
	postoffice	TEXT,
	serial_raw	BLOB CHECK (serial_raw IS NULL OR length(serial_raw) = 10),
	serial		TEXT,			-- display form, "22-28798"
	kind		TEXT CHECK (kind IN ('msmail', 'wgpo', 'connector',
			    'unknown')),
	flags		INTEGER,
	nos_type	INTEGER,
	db_version	INTEGER,
	product_version	INTEGER,
	checksum_ok	INTEGER CHECK (checksum_ok IN (0, 1)),
	CHECK ((serial_raw IS NULL) = (first_seen_us IS NULL))
);

-- Every crawl attempt, with the identity it saw (NULL when it read none).
CREATE TABLE crawl (
	id		INTEGER PRIMARY KEY,
	location_id	INTEGER NOT NULL REFERENCES location (id)
			    ON DELETE CASCADE,
	started_us	INTEGER NOT NULL,
	finished_us	INTEGER NOT NULL,
	outcome		TEXT NOT NULL CHECK (outcome IN ('ok', 'not-postoffice',
			    'malformed', 'auth-failed', 'access-denied',
			    'unreachable', 'timeout', 'error')),
	error		TEXT,
	network		TEXT,
	postoffice	TEXT,
	serial_raw	BLOB CHECK (serial_raw IS NULL OR length(serial_raw) = 10),
	serial		TEXT,
	kind		TEXT,
	checksum_ok	INTEGER,
	nroutes		INTEGER			-- routes read, NULL if none
);
CREATE INDEX crawl_location ON crawl (location_id, id);

-- The external postoffices and gateway networks a postoffice routes to,
-- as read by the last crawl that could read them (see store.c).
CREATE TABLE route (
	location_id	INTEGER NOT NULL REFERENCES location (id)
			    ON DELETE CASCADE,
	seq		INTEGER NOT NULL,	-- order in NETWORK.GLB / XTN
	to_network	TEXT NOT NULL,
	to_postoffice	TEXT NOT NULL DEFAULT '',	-- '' for a gateway network
	type		INTEGER NOT NULL,	-- NETWORK.GLB record type
	crawl_id	INTEGER REFERENCES crawl (id) ON DELETE SET NULL,
	PRIMARY KEY (location_id, seq)
);

-- A change of a location's identity between two crawls that read it.
CREATE TABLE identity_change (
	id		INTEGER PRIMARY KEY,
	location_id	INTEGER NOT NULL REFERENCES location (id)
			    ON DELETE CASCADE,
	crawl_id	INTEGER REFERENCES crawl (id) ON DELETE SET NULL,
	changed_us	INTEGER NOT NULL,
	field		TEXT NOT NULL CHECK (field IN ('network', 'postoffice',
			    'serial')),
	old		TEXT,
	new		TEXT
);
CREATE INDEX identity_change_location ON identity_change (location_id, id);

-- Alerts raised by the rule engine.  At most one open alert per rule and
-- key; a cleared alert stays as history.
CREATE TABLE alert (
	id		INTEGER PRIMARY KEY,
	rule		TEXT NOT NULL,
	severity	TEXT NOT NULL CHECK (severity IN ('emerg', 'alert', 'crit',
			    'err', 'warning', 'notice', 'info', 'debug')),
	state		TEXT NOT NULL DEFAULT 'open'
			    CHECK (state IN ('open', 'cleared')),
	key		TEXT NOT NULL,
	message		TEXT NOT NULL,
	raised_us	INTEGER NOT NULL,
	last_seen_us	INTEGER NOT NULL,
	cleared_us	INTEGER,
	last_notified_us INTEGER,
	CHECK ((state = 'cleared') = (cleared_us IS NOT NULL))
);
CREATE UNIQUE INDEX alert_open ON alert (rule, key) WHERE state = 'open';
CREATE INDEX alert_state ON alert (state, rule);

-- Access paths of the rules: equal serials, equal NET/PO.
CREATE INDEX location_serial_raw ON location (serial_raw);
CREATE INDEX location_address ON location (upper(network), upper(postoffice));

CREATE VIEW postoffices AS
SELECT	l.location, l.host, l.port, l.share, l.path,
	l.network, l.postoffice, l.network || '/' || l.postoffice AS address,
	l.serial, lower(hex(l.serial_raw)) AS serial_raw, l.kind,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.first_seen_us / 1000000, 'unixepoch')
	    AS first_seen,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_seen_us / 1000000, 'unixepoch')
	    AS last_seen,
	l.last_outcome, l.last_error,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_ok_us / 1000000, 'unixepoch')
	    AS last_ok,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_crawled_us / 1000000,
	    'unixepoch') AS last_crawled,
	l.checksum_ok, l.flags, l.product_version
FROM	location l
WHERE	l.serial_raw IS NOT NULL;

CREATE VIEW crawls AS
SELECT	c.id, l.location,
	strftime('%Y-%m-%dT%H:%M:%SZ', c.started_us / 1000000, 'unixepoch')
	    AS started,
	strftime('%Y-%m-%dT%H:%M:%SZ', c.finished_us / 1000000, 'unixepoch')
	    AS finished,
	c.outcome, c.error, c.network, c.postoffice,
	c.network || '/' || c.postoffice AS address,
	c.serial, lower(hex(c.serial_raw)) AS serial_raw, c.checksum_ok
FROM	crawl c JOIN location l ON l.id = c.location_id;

CREATE VIEW alerts AS
SELECT	a.id, a.rule, a.severity, a.state, a.key, a.message,
	strftime('%Y-%m-%dT%H:%M:%SZ', a.raised_us / 1000000, 'unixepoch')
	    AS raised,
	strftime('%Y-%m-%dT%H:%M:%SZ', a.last_seen_us / 1000000, 'unixepoch')
	    AS last_seen,
	strftime('%Y-%m-%dT%H:%M:%SZ', a.cleared_us / 1000000, 'unixepoch')
	    AS cleared,
	strftime('%Y-%m-%dT%H:%M:%SZ', a.last_notified_us / 1000000,
	    'unixepoch') AS last_notified
FROM	alert a;

CREATE VIEW routes AS
SELECT	l.location, l.network || '/' || l.postoffice AS address,
	CASE WHEN r.to_postoffice = '' THEN r.to_network
	    ELSE r.to_network || '/' || r.to_postoffice END AS to_address,
	CASE r.type
	    WHEN 0 THEN 'msmail'
	    WHEN 16 THEN 'connector'
	    WHEN 8 THEN 'x400'
	    WHEN 12 THEN 'smtp'
	    WHEN 14 THEN 'mhs'
	    ELSE CASE WHEN r.type >= 100 THEN 'gateway-' ELSE 'type-' END
		|| r.type
	END AS type,
	r.to_network, r.to_postoffice, r.type AS type_code
FROM	route r JOIN location l ON l.id = r.location_id
ORDER BY l.location, r.seq;

CREATE VIEW postoffice_history AS
SELECT	l.location,
	strftime('%Y-%m-%dT%H:%M:%SZ', h.changed_us / 1000000, 'unixepoch')
	    AS changed,
	h.field, h.old, h.new
FROM	identity_change h JOIN location l ON l.id = h.location_id
ORDER BY h.id;

-- migration 2
-- The unreachable rule asks how many crawls in a row, up to the last one,
-- failed to read a known postoffice.  Keep that count on the location,
-- backfilled from the crawl history, and show it in postoffices.  Also
-- index the serial display form and the view's hex form of the raw serial,
-- which is what user rules written over the views compare.
ALTER TABLE location ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;

UPDATE location SET failures = (
	SELECT	count(*)
	FROM	crawl c
	WHERE	c.location_id = location.id
	AND	c.id > coalesce((SELECT max(c2.id) FROM crawl c2
		    WHERE c2.location_id = location.id
		    AND c2.serial_raw IS NOT NULL), 0));

CREATE INDEX location_serial ON location (serial);
CREATE INDEX location_serial_hex ON location (lower(hex(serial_raw)));
CREATE INDEX crawl_outcome ON crawl (outcome);

DROP VIEW postoffices;
CREATE VIEW postoffices AS
SELECT	l.location, l.host, l.port, l.share, l.path,
	l.network, l.postoffice, l.network || '/' || l.postoffice AS address,
	l.serial, lower(hex(l.serial_raw)) AS serial_raw, l.kind,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.first_seen_us / 1000000, 'unixepoch')
	    AS first_seen,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_seen_us / 1000000, 'unixepoch')
	    AS last_seen,
	l.last_outcome, l.last_error,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_ok_us / 1000000, 'unixepoch')
	    AS last_ok,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_crawled_us / 1000000,
	    'unixepoch') AS last_crawled,
	l.failures,
	l.checksum_ok, l.flags, l.product_version
FROM	location l
WHERE	l.serial_raw IS NOT NULL;

-- migration 3
-- Every location ever crawled, identified or not: the malformed rule needs
-- the locations whose MASTER.GLB was damaged from the first crawl on, which
-- postoffices does not list.
CREATE VIEW locations AS
SELECT	l.location, l.host, l.port, l.share, l.path,
	l.serial_raw IS NOT NULL AS identified,
	CASE WHEN l.serial_raw IS NULL THEN NULL
	    ELSE l.network || '/' || l.postoffice END AS address,
	l.serial, l.kind, l.last_outcome, l.last_error,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_crawled_us / 1000000,
	    'unixepoch') AS last_crawled,
	l.failures, l.checksum_ok
FROM	location l;

-- migration 4
-- crawls.serial_raw is NULL, not '', for a crawl that read no identity;
-- postoffice_history gains the id that orders changes made in one second.
DROP VIEW crawls;
CREATE VIEW crawls AS
SELECT	c.id, l.location,
	strftime('%Y-%m-%dT%H:%M:%SZ', c.started_us / 1000000, 'unixepoch')
	    AS started,
	strftime('%Y-%m-%dT%H:%M:%SZ', c.finished_us / 1000000, 'unixepoch')
	    AS finished,
	c.outcome, c.error, c.network, c.postoffice,
	c.network || '/' || c.postoffice AS address,
	c.serial,
	CASE WHEN c.serial_raw IS NULL THEN NULL
	    ELSE lower(hex(c.serial_raw)) END AS serial_raw,
	c.checksum_ok
FROM	crawl c JOIN location l ON l.id = c.location_id;

DROP VIEW postoffice_history;
CREATE VIEW postoffice_history AS
SELECT	h.id, l.location,
	strftime('%Y-%m-%dT%H:%M:%SZ', h.changed_us / 1000000, 'unixepoch')
	    AS changed,
	h.field, h.old, h.new
FROM	identity_change h JOIN location l ON l.id = h.location_id
ORDER BY h.id;

-- migration 5
-- Locations have a lifecycle and a key.  key is the location as SMB tells
-- locations apart (maildat_key(): host and names case-folded the way code
-- page 850 folds them, the default port, one spelling of an IPv6 address);
-- one active location per key.  A location no longer configured, or no
-- longer found, or failing for retire_after, is retired: it keeps its
-- history but drops out of postoffices and the rules.  Rows that the new
-- key makes one location (\\H\Maildat$ and \\H\MAILDAT$) are merged by
-- retiring all but the one crawled last.  address_key is NET/PO folded
-- the same way, which upper() (ASCII only) did not.  silent_crawls counts
-- crawls of an address that never answered, summarised on the location
-- instead of stored one a round.  credential_state keeps the lockout
-- guard's suspensions.  The foreign keys that pruning deletes through get
-- indexes; crawl_outcome, which nothing used, goes.
ALTER TABLE location ADD COLUMN key TEXT;
ALTER TABLE location ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
    CHECK (state IN ('active', 'retired'));
ALTER TABLE location ADD COLUMN retired_us INTEGER;
ALTER TABLE location ADD COLUMN address_key TEXT;
ALTER TABLE location ADD COLUMN silent_crawls INTEGER NOT NULL DEFAULT 0;
-- The latest change of the serial (serial-changed reads it, not history).
ALTER TABLE location ADD COLUMN serial_change_id INTEGER
    REFERENCES identity_change (id) ON DELETE SET NULL;

UPDATE location SET key = maildat_key(host, port, share, path),
    address_key = CASE WHEN serial_raw IS NULL THEN NULL
	ELSE maildat_upper(network || '/' || postoffice) END,
    serial_change_id = (SELECT max(h.id) FROM identity_change h
	WHERE h.location_id = location.id AND h.field = 'serial'),
    last_crawl_id = coalesce(last_crawl_id, (SELECT max(c.id) FROM crawl c
	WHERE c.location_id = location.id));
UPDATE location SET state = 'retired', retired_us = last_crawled_us
WHERE id NOT IN (
	SELECT id FROM (
		SELECT id, row_number() OVER (PARTITION BY key
		    ORDER BY last_crawled_us DESC, id DESC) AS n
		FROM location)
	WHERE n = 1);

CREATE UNIQUE INDEX location_key ON location (key) WHERE state = 'active';
-- The duplicate rules group the identified active locations both ways.
DROP INDEX location_address;
CREATE INDEX location_serial_address ON location (serial_raw, address_key)
    WHERE state = 'active' AND serial_raw IS NOT NULL;
CREATE INDEX location_address_serial ON location (address_key, serial_raw)
    WHERE state = 'active' AND serial_raw IS NOT NULL;
DROP INDEX crawl_outcome;
CREATE INDEX route_crawl ON route (crawl_id);
CREATE INDEX identity_change_crawl ON identity_change (crawl_id);
CREATE INDEX location_last_crawl ON location (last_crawl_id);
-- Whether an address ever answered (store_save.c).
CREATE INDEX location_host ON location (host, port);

CREATE TABLE credential_state (
	name		TEXT PRIMARY KEY,	-- the [credentials] section
	fingerprint	TEXT NOT NULL,		-- of its account and settings
	account		TEXT NOT NULL,		-- DOMAIN\user, for messages
	failures	INTEGER NOT NULL,	-- logons refused in a row
	hosts		TEXT NOT NULL,		-- that refused them
	status		TEXT,			-- the last refusal's NT status
	suspended_us	INTEGER NOT NULL
);

DROP VIEW postoffices;
CREATE VIEW postoffices AS
SELECT	l.location, l.host, l.port, l.share, l.path,
	l.network, l.postoffice, l.network || '/' || l.postoffice AS address,
	l.serial, lower(hex(l.serial_raw)) AS serial_raw, l.kind,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.first_seen_us / 1000000, 'unixepoch')
	    AS first_seen,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_seen_us / 1000000, 'unixepoch')
	    AS last_seen,
	l.last_outcome, l.last_error,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_ok_us / 1000000, 'unixepoch')
	    AS last_ok,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_crawled_us / 1000000,
	    'unixepoch') AS last_crawled,
	l.failures,
	l.checksum_ok, l.flags, l.product_version,
	l.address_key
FROM	location l
WHERE	l.serial_raw IS NOT NULL AND l.state = 'active';

DROP VIEW locations;
CREATE VIEW locations AS
SELECT	l.location, l.host, l.port, l.share, l.path,
	l.serial_raw IS NOT NULL AS identified,
	CASE WHEN l.serial_raw IS NULL THEN NULL
	    ELSE l.network || '/' || l.postoffice END AS address,
	l.serial, l.kind, l.last_outcome, l.last_error,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.last_crawled_us / 1000000,
	    'unixepoch') AS last_crawled,
	l.failures, l.checksum_ok, l.state,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.retired_us / 1000000, 'unixepoch')
	    AS retired,
	strftime('%Y-%m-%dT%H:%M:%SZ', l.first_crawled_us / 1000000,
	    'unixepoch') AS first_crawled,
	l.silent_crawls
FROM	location l;
