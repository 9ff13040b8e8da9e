-- tools/test-parts/malloc/workload.sql — an insert/query workload for sqlite3.
PRAGMA journal_mode = WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL, blob BLOB);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
INSERT INTO t(name, grp, val, blob)
  SELECT printf('name-%08d-%s', (i * 7919) % 60013, substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26)),
         i % 97, (i * 31 % 1000) / 7.0, zeroblob(i % 300)
  FROM n;
COMMIT;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp ON t(grp, val);
SELECT count(*), sum(length(blob)), round(sum(val), 3) FROM t;
SELECT grp, count(*), round(avg(val), 4), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 20;
SELECT name FROM t WHERE name LIKE 'name-0001%' ORDER BY name LIMIT 10;
UPDATE t SET val = val * 2 WHERE grp % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), round(sum(val), 3) FROM t;
SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY val DESC, name LIMIT 50);
SELECT a.grp, count(*) FROM t a JOIN t b ON a.grp = b.grp AND b.id = a.id + 97 GROUP BY a.grp ORDER BY 2 DESC LIMIT 5;
VACUUM;
SELECT count(*) FROM t;
