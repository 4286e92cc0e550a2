-- The built-in rules of maildatd.  Each is one SELECT that returns one row
-- per finding: a stable key and a message, optionally a severity (NULL:
-- the rule's own), and more columns, which travel with the alert's events
-- (syslog structured data, alert_log).  A section starts at a line
-- "-- rule NAME SEVERITY".  :unreachable_after is bound to the configured
-- number of failed crawls, :now_us to the time of the rule run.
--
-- They read the tables, not the views: the identified active locations
-- are postoffices' rows (state = 'active' AND serial_raw IS NOT NULL), and
-- the partial indexes location_serial_address and location_address_serial
-- cover them.  Each duplicate rule first narrows to the keys that occur
-- more than once, then reads only their rows.  Lists in messages are
-- separated by ", " so that a relay that cuts a message (rules.c cuts
-- syslog text near 1,000 bytes, "and N more") keeps whole items; the count
-- and the serial come first.

-- rule duplicate-serial err
-- Two or more postoffices with different addresses share a serial.  Those
-- joined in the route graph (one routes to the other, or both reach a
-- common postoffice, maildat_route_path()) stop the PC MTA with Event
-- 4188; those that are not collide as soon as someone joins them, and are
-- a warning.
WITH grp AS (
	SELECT	serial_raw
	FROM	location
	WHERE	state = 'active' AND serial_raw IS NOT NULL
	GROUP BY serial_raw
	HAVING	min(address_key) <> max(address_key)
), member AS (
	SELECT	l.serial_raw, l.serial, l.location,
		l.network || '/' || l.postoffice AS address
	FROM	grp g JOIN location l ON l.serial_raw = g.serial_raw
	WHERE	l.state = 'active'
	ORDER BY l.serial_raw, l.address_key, l.location
), agg AS (
	SELECT	serial_raw, max(serial) AS serial, count(*) AS n,
		maildat_route_path(address) AS path,
		group_concat('the postoffice ' || address || ' on ' || location,
		    ', ') AS members,
		group_concat(address, ' ') AS addresses,
		group_concat(location, ' ') AS locations
	FROM	member
	GROUP BY serial_raw
)
SELECT	'serial ' || lower(hex(serial_raw)) AS key,
	CASE WHEN path IS NULL THEN 'warning' END AS severity,
	'Postoffice serial number [' || serial || '] is on ' || n ||
	    ' postoffices' ||
	    CASE WHEN path IS NOT NULL
		THEN ' joined over MS Mail (' || path || '): the PC MTA stops ' ||
		    'with Event 4188: '
		ELSE ', latent: these postoffices collide as soon as they are ' ||
		    'joined: '
	    END || members AS message,
	serial, n AS count, CASE WHEN path IS NULL THEN 0 ELSE 1 END AS joined,
	path, addresses, locations
FROM	agg;

-- rule duplicate-address err
-- One NET/PO (compared as MS Mail compares names, in code page 850) at two
-- or more locations with different serials.
WITH grp AS (
	SELECT	address_key
	FROM	location
	WHERE	state = 'active' AND serial_raw IS NOT NULL
	GROUP BY address_key
	HAVING	min(serial_raw) <> max(serial_raw)
), member AS (
	SELECT	l.address_key, l.location, l.serial
	FROM	grp g JOIN location l ON l.address_key = g.address_key
	WHERE	l.state = 'active' AND l.serial_raw IS NOT NULL
	ORDER BY l.address_key, l.location
)
SELECT	'address ' || address_key AS key,
	'The postoffice ' || address_key || ' is at ' || count(*) ||
	    ' locations with different serial numbers: ' ||
	    group_concat(location || ' [' || serial || ']', ', ') AS message,
	address_key AS address, count(*) AS count,
	group_concat(location, ' ') AS locations,
	group_concat(serial, ' ') AS serials
FROM	member
GROUP BY address_key;

-- rule duplicate-postoffice warning
-- The same NET/PO and serial read by the last crawl of two or more
-- locations: two paths to one postoffice, or a copy of it.  A location
-- that no longer reads it does not count (that is a move: see
-- postoffice-moved).
WITH grp AS (
	SELECT	address_key, serial_raw
	FROM	location
	WHERE	state = 'active' AND serial_raw IS NOT NULL AND failures = 0
	GROUP BY address_key, serial_raw
	HAVING	count(*) > 1
), member AS (
	SELECT	l.address_key, l.serial_raw, l.serial, l.location
	FROM	grp g JOIN location l ON l.address_key = g.address_key
		AND l.serial_raw = g.serial_raw
	WHERE	l.state = 'active' AND l.failures = 0
	ORDER BY l.address_key, l.serial_raw, l.location
)
SELECT	'postoffice ' || address_key || ' ' || lower(hex(serial_raw)) AS key,
	'The postoffice ' || address_key || ' with serial number [' ||
	    max(serial) || '] is at ' || count(*) || ' locations (two paths ' ||
	    'to one postoffice, or a copy of it): ' ||
	    group_concat(location, ', ') AS message,
	address_key AS address, max(serial) AS serial, count(*) AS count,
	group_concat(location, ' ') AS locations
FROM	member
GROUP BY address_key, serial_raw;

-- rule serial-changed warning
-- The last crawl that read a location found a serial other than the one
-- before (the location's latest serial change is dated by that crawl).
-- The alert clears at the next crawl that reads the location.
SELECT	l.location || ' ' || h.new AS key,
	'The postoffice ' || l.network || '/' || l.postoffice || ' on ' ||
	    l.location || ' changed its serial number from [' || h.old ||
	    '] to [' || h.new || ']' AS message,
	l.location, h.old AS old_serial, h.new AS serial
FROM	location l JOIN identity_change h ON h.id = l.serial_change_id
WHERE	l.state = 'active' AND l.serial_raw IS NOT NULL
AND	h.changed_us = l.last_seen_us;

-- rule unreachable warning
-- A known postoffice whose last :unreachable_after crawls all failed, and
-- a location never read at all because the server refused the logon or
-- the share (it would go unnoticed otherwise).
SELECT	location AS key,
	'The postoffice ' || network || '/' || postoffice || ' on ' ||
	    location || ' has not been read since ' ||
	    strftime('%Y-%m-%dT%H:%M:%SZ', last_seen_us / 1000000,
	    'unixepoch') || ' (' || last_outcome ||
	    coalesce(': ' || last_error, '') || ')' AS message,
	location, network || '/' || postoffice AS address, last_outcome
FROM	location
WHERE	state = 'active' AND serial_raw IS NOT NULL
AND	failures >= :unreachable_after
UNION ALL
SELECT	location AS key,
	'The location ' || location || ' has never been read: ' ||
	    last_outcome || coalesce(': ' || last_error, '') AS message,
	location, NULL AS address, last_outcome
FROM	location
WHERE	state = 'active' AND serial_raw IS NULL AND last_ok_us IS NULL
AND	last_outcome IN ('auth-failed', 'access-denied');

-- rule malformed warning
-- A postoffice whose files are damaged: wrong sizes, bad names, a serial
-- whose checksum does not match.
SELECT	location AS key,
	'The postoffice files at ' || location ||
	    coalesce(' (' || network || '/' || postoffice || ')', '') ||
	    ' are damaged: ' ||
	    coalesce(last_error, 'serial checksum mismatch') AS message,
	location
FROM	location
WHERE	state = 'active' AND (last_outcome = 'malformed' OR checksum_ok = 0);

-- rule credentials-suspended err
-- The lockout guard stopped using a [credentials] section after it was
-- refused lockout_after times in a row, so that the account is not locked
-- out.  The alert clears when the suspension is lifted.
SELECT	'credentials ' || name AS key,
	'The credentials ' || name || ' (account ' || account || ') are no ' ||
	    'longer used after ' || failures || ' refused logons' ||
	    coalesce(' (' || status || ')', '') || ', so the account is ' ||
	    'not locked out; fix its auth file or keytab and reload, or ' ||
	    'run maildatctl resume ' || name || '. Refused by: ' || hosts
	    AS message,
	name AS credentials, account, failures, hosts, status
FROM	credential_state;

-- rule postoffice-moved notice
-- A postoffice that appeared at a new location after its old location
-- stopped reading it (failing, or retired in the last seven days): a
-- move, not a duplicate.  Reported once; it clears when the old location
-- has been retired for seven days.
SELECT	'moved ' || n.address_key || ' ' || lower(hex(n.serial_raw)) || ' ' ||
	    n.location AS key,
	'The postoffice ' || n.network || '/' || n.postoffice ||
	    ' with serial number [' || n.serial || '] moved from ' ||
	    o.location || ' to ' || n.location AS message,
	n.network || '/' || n.postoffice AS address, n.serial,
	o.location AS old_location, n.location AS new_location
FROM	location n JOIN location o ON o.address_key = n.address_key
	AND o.serial_raw = n.serial_raw AND o.id <> n.id
WHERE	n.state = 'active' AND n.serial_raw IS NOT NULL AND n.failures = 0
AND	n.first_seen_us > o.last_seen_us
AND	((o.state = 'active' AND o.failures > 0) OR
	 (o.state = 'retired' AND o.retired_us > :now_us - 604800000000));
