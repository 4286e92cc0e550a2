-- The built-in rules of maildatd.  Each is one SELECT over the public views
-- that returns one row per finding: a stable key and a message.  A section
-- starts at a line "-- rule NAME SEVERITY".  :unreachable_after is bound to
-- the configured number of failed crawls.

-- rule duplicate-serial err
-- Two or more postoffices with different addresses share a serial: the PC
-- MTA stops with Event 4188.  The message uses that event's words.
WITH dup AS (
	SELECT	serial_raw
	FROM	postoffices
	GROUP BY serial_raw
	HAVING	count(DISTINCT upper(address)) > 1
), member AS (
	SELECT	p.serial_raw, p.serial, p.address, p.location,
		row_number() OVER w AS n, count(*) OVER w AS total
	FROM	postoffices p JOIN dup USING (serial_raw)
	WINDOW	w AS (PARTITION BY p.serial_raw
		    ORDER BY upper(p.address), p.location
		    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
	ORDER BY p.serial_raw, n
)
SELECT	'serial ' || serial_raw AS key,
	group_concat(CASE WHEN n = 1 THEN 'The postoffice '
	    WHEN n = total THEN ' and the postoffice '
	    ELSE ', the postoffice ' END || address || ' on ' || location, '')
	    || ' have the same postoffice serial number [' || serial || ']'
	    AS message
FROM	member
GROUP BY serial_raw;

-- rule duplicate-address err
-- One NET/PO at two or more locations with different serials.
WITH dup AS (
	SELECT	upper(address) AS uaddr
	FROM	postoffices
	GROUP BY upper(address)
	HAVING	count(DISTINCT serial_raw) > 1
), member AS (
	SELECT	upper(p.address) AS uaddr, p.location, p.serial
	FROM	postoffices p JOIN dup ON dup.uaddr = upper(p.address)
	ORDER BY upper(p.address), p.location
)
SELECT	'address ' || uaddr AS key,
	'The postoffice ' || uaddr || ' is at ' || count(*) ||
	    ' locations with different serial numbers: ' ||
	    group_concat(location || ' [' || serial || ']', ', ') AS message
FROM	member
GROUP BY uaddr;

-- rule duplicate-postoffice warning
-- The same NET/PO and serial at two or more locations: two paths to one
-- postoffice, or a copy of it.
WITH dup AS (
	SELECT	upper(address) AS uaddr, serial_raw
	FROM	postoffices
	GROUP BY upper(address), serial_raw
	HAVING	count(*) > 1
), member AS (
	SELECT	d.uaddr, p.serial_raw, p.serial, p.location
	FROM	postoffices p JOIN dup d
		    ON d.uaddr = upper(p.address) AND d.serial_raw = p.serial_raw
	ORDER BY d.uaddr, p.serial_raw, p.location
)
SELECT	'postoffice ' || uaddr || ' ' || serial_raw AS key,
	'The postoffice ' || uaddr || ' with serial number [' || serial ||
	    '] is at ' || count(*) || ' locations: ' ||
	    group_concat(location, ', ') ||
	    ' (two paths to one postoffice, or a copy of it)' AS message
FROM	member
GROUP BY uaddr, serial_raw;

-- rule serial-changed warning
-- The last crawl that read a location found a serial other than the one
-- before.  The alert clears at the next crawl that finds the same serial.
SELECT	h.location || ' ' || h.new AS key,
	'The postoffice ' || p.address || ' on ' || h.location ||
	    ' changed its serial number from [' || h.old || '] to [' ||
	    h.new || ']' AS message
FROM	postoffice_history h JOIN postoffices p ON p.location = h.location
WHERE	h.field = 'serial' AND h.changed = p.last_seen;

-- rule unreachable warning
-- A known postoffice whose last :unreachable_after crawls all failed.
SELECT	location AS key,
	'The postoffice ' || address || ' on ' || location ||
	    ' could not be read in its last ' || failures || ' crawls (' ||
	    last_outcome || coalesce(': ' || last_error, '') || ')' AS message
FROM	postoffices
WHERE	failures >= :unreachable_after;

-- rule malformed warning
-- A postoffice whose files are damaged: wrong sizes, bad names, a serial
-- whose checksum does not match.
SELECT	location AS key,
	'The postoffice files at ' || location ||
	    coalesce(' (' || address || ')', '') || ' are damaged: ' ||
	    coalesce(last_error, 'serial checksum mismatch') AS message
FROM	locations
WHERE	last_outcome = 'malformed' OR checksum_ok = 0;
