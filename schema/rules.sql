-- The built-in rules of maildatd.  Each is one SELECT over the public views
-- that returns one row per finding: a stable key and a message.  A section
-- starts at a line "-- rule NAME SEVERITY".  :unreachable_after is bound to
-- the configured number of failed crawls.

-- rule duplicate-serial err
-- Two or more postoffices with different addresses share a serial: the PC
-- MTA stops with Event 4188.  The message uses that event's words.  (Window
-- functions, not a join on computed columns: SQLite 3.40's planner gave
-- wrong answers for such joins through the expression indexes.)
WITH member AS (
	SELECT	serial_raw, serial, address, location,
		min(upper(address)) OVER w AS lo, max(upper(address)) OVER w AS hi,
		row_number() OVER (PARTITION BY serial_raw
		    ORDER BY upper(address), location) AS n,
		count(*) OVER w AS total
	FROM	postoffices
	WINDOW	w AS (PARTITION BY serial_raw)
), dup AS (
	SELECT	* FROM member WHERE lo <> hi ORDER BY serial_raw, n
)
SELECT	'serial ' || serial_raw AS key,
	group_concat(CASE WHEN n = 1 THEN 'The postoffice '
	    WHEN n = total THEN ' and the postoffice '
	    ELSE ', the postoffice ' END || address || ' on ' || location, '')
	    || ' have the same postoffice serial number [' || serial || ']'
	    AS message
FROM	dup
GROUP BY serial_raw;

-- rule duplicate-address err
-- One NET/PO at two or more locations with different serials.
WITH member AS (
	SELECT	upper(address) AS uaddr, location, serial, serial_raw,
		min(serial_raw) OVER w AS lo, max(serial_raw) OVER w AS hi
	FROM	postoffices
	WINDOW	w AS (PARTITION BY upper(address))
), dup AS (
	SELECT	* FROM member WHERE lo <> hi ORDER BY uaddr, location
)
SELECT	'address ' || uaddr AS key,
	'The postoffice ' || uaddr || ' is at ' || count(*) ||
	    ' locations with different serial numbers: ' ||
	    group_concat(location || ' [' || serial || ']', ', ') AS message
FROM	dup
GROUP BY uaddr;

-- rule duplicate-postoffice warning
-- The same NET/PO and serial at two or more locations: two paths to one
-- postoffice, or a copy of it.
WITH member AS (
	SELECT	upper(address) AS uaddr, serial_raw, serial, location,
		count(*) OVER (PARTITION BY upper(address), serial_raw) AS total
	FROM	postoffices
), dup AS (
	SELECT	* FROM member WHERE total > 1
	ORDER BY uaddr, serial_raw, location
)
SELECT	'postoffice ' || uaddr || ' ' || serial_raw AS key,
	'The postoffice ' || uaddr || ' with serial number [' || serial ||
	    '] is at ' || count(*) || ' locations: ' ||
	    group_concat(location, ', ') ||
	    ' (two paths to one postoffice, or a copy of it)' AS message
FROM	dup
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
