// id: ring-timeline
// name: Ring timeline
// description: Per day (UTC), how many members of the ring (an id, or top: the highest-scoring ring) signed up
//   (Account.created_at), sent their first request (first_seen) and their last one (last_seen). Requests per day
//   are not in the graph (only each account's totals and first/last request are), so this is the sign-up and
//   activity-span view.
// params: ring_id: string (example: top)
// mode: read
MATCH (r:Ring)
WHERE r.ring_id = $ring_id OR $ring_id = 'top'
WITH r ORDER BY r.score DESC, r.ring_id
LIMIT 1
MATCH (r)<-[:MEMBER_OF]-(a:Account)
UNWIND [['signup', a.created_at], ['first', a.first_seen], ['last', a.last_seen]] AS event
WITH event[0] AS what, date(datetime(event[1])) AS day
WHERE day IS NOT NULL
RETURN day, sum(CASE WHEN what = 'signup' THEN 1 ELSE 0 END) AS signups,
       sum(CASE WHEN what = 'first' THEN 1 ELSE 0 END) AS first_requests,
       sum(CASE WHEN what = 'last' THEN 1 ELSE 0 END) AS last_requests
ORDER BY day
