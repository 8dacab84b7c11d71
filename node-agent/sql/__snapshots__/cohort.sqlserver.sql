-- dialect: sqlserver;

DROP TABLE IF EXISTS [#snap__codesets];

SELECT * INTO [#snap__codesets] FROM (
SELECT CAST(NULL AS INT) AS codeset_id, CAST(NULL AS BIGINT) AS concept_id WHERE 1 = 0
UNION ALL
SELECT DISTINCT CAST(0 AS INT) AS codeset_id, CAST(I.concept_id AS BIGINT) AS concept_id
  FROM (
    SELECT concept_id FROM concept WHERE concept_id IN (201826)
    UNION SELECT c.concept_id FROM concept c JOIN concept_ancestor ca ON c.concept_id = ca.descendant_concept_id WHERE c.invalid_reason IS NULL AND ca.ancestor_concept_id IN (201826)
  ) I
UNION ALL
SELECT DISTINCT CAST(1 AS INT) AS codeset_id, CAST(I.concept_id AS BIGINT) AS concept_id
  FROM (
    SELECT concept_id FROM concept WHERE concept_id IN (1503297)
  ) I
UNION ALL
SELECT DISTINCT CAST(2 AS INT) AS codeset_id, CAST(I.concept_id AS BIGINT) AS concept_id
  FROM (
    SELECT concept_id FROM concept WHERE concept_id IN (3004410)
  ) I
) AS src;

DROP TABLE IF EXISTS [#snap__qualified];

WITH primary_events AS (
SELECT P.ordinal AS event_id, P.person_id, P.start_date, P.end_date, P.op_start_date, P.op_end_date, P.visit_occurrence_id
FROM (
  SELECT E.person_id, E.start_date, E.end_date, E.visit_occurrence_id,
    row_number() OVER (PARTITION BY E.person_id ORDER BY E.sort_date ASC, E.event_id) AS ordinal,
    CAST(OP.observation_period_start_date AS DATE) AS op_start_date, CAST(OP.observation_period_end_date AS DATE) AS op_end_date
  FROM (
  SELECT C.person_id, C.event_id, C.start_date, C.end_date, C.visit_occurrence_id, C.start_date AS sort_date, C.target_concept_id
  FROM (
    SELECT t.person_id, t.condition_occurrence_id AS event_id, CAST(t.condition_start_date AS DATE) AS start_date, COALESCE(CAST(t.condition_end_date AS DATE), DATEADD(day, 1, CAST(t.condition_start_date AS DATE))) AS end_date, CAST(t.visit_occurrence_id AS BIGINT) AS visit_occurrence_id, COALESCE(t.condition_concept_id, 0) AS target_concept_id, row_number() OVER (PARTITION BY t.person_id ORDER BY CAST(t.condition_start_date AS DATE), t.condition_occurrence_id) AS ordinal
    FROM condition_occurrence t
    JOIN [#snap__codesets] cs ON t.condition_concept_id = cs.concept_id AND cs.codeset_id = 0
  ) C
  WHERE C.ordinal = 1
  ) E
  JOIN observation_period OP ON E.person_id = OP.person_id AND E.start_date >= CAST(OP.observation_period_start_date AS DATE) AND E.start_date <= CAST(OP.observation_period_end_date AS DATE)
  WHERE DATEADD(day, 365, CAST(OP.observation_period_start_date AS DATE)) <= E.start_date AND E.start_date <= CAST(OP.observation_period_end_date AS DATE)
) P
WHERE P.ordinal = 1
)
SELECT * INTO [#snap__qualified] FROM (
SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date, visit_occurrence_id
FROM (
  SELECT pe.*, row_number() OVER (PARTITION BY pe.person_id ORDER BY pe.start_date ASC, pe.event_id) AS ordinal
  FROM primary_events pe
) QE
) AS src;

DROP TABLE IF EXISTS [#snap__inclusion];

SELECT * INTO [#snap__inclusion] FROM (
SELECT CAST(NULL AS INT) AS inclusion_rule_id, CAST(NULL AS BIGINT) AS person_id, CAST(NULL AS BIGINT) AS event_id WHERE 1 = 0
UNION ALL
SELECT CAST(0 AS INT) AS inclusion_rule_id, R.person_id, R.event_id FROM (
SELECT E.person_id, E.event_id
  FROM [#snap__qualified] E
  LEFT JOIN (
SELECT E.person_id, E.event_id
  FROM [#snap__qualified] E
  JOIN person PER ON PER.person_id = E.person_id
  WHERE (YEAR(E.start_date) - PER.year_of_birth) >= 40
  GROUP BY E.person_id, E.event_id
  ) CQ ON E.person_id = CQ.person_id AND E.event_id = CQ.event_id
  GROUP BY E.person_id, E.event_id
  HAVING COUNT(CQ.event_id) = 1
) R
UNION ALL
SELECT CAST(1 AS INT) AS inclusion_rule_id, R.person_id, R.event_id FROM (
SELECT E.person_id, E.event_id
  FROM [#snap__qualified] E
  LEFT JOIN (
SELECT P.person_id, P.event_id
  FROM [#snap__qualified] P
  LEFT JOIN (SELECT C.person_id, C.event_id, C.start_date, C.end_date, C.visit_occurrence_id, C.start_date AS sort_date, C.target_concept_id
  FROM (
    SELECT t.person_id, t.measurement_id AS event_id, CAST(t.measurement_date AS DATE) AS start_date, DATEADD(day, 1, CAST(t.measurement_date AS DATE)) AS end_date, CAST(t.visit_occurrence_id AS BIGINT) AS visit_occurrence_id, COALESCE(t.measurement_concept_id, 0) AS target_concept_id, CAST(t.value_as_number AS FLOAT) AS value_as_number
    FROM measurement t
    JOIN [#snap__codesets] cs ON t.measurement_concept_id = cs.concept_id AND cs.codeset_id = 2
  ) C
  WHERE C.value_as_number >= CAST(6.5 AS FLOAT)) A
    ON A.person_id = P.person_id
    AND A.start_date >= P.op_start_date AND A.start_date <= P.op_end_date
    AND A.start_date >= DATEADD(day, -365, P.start_date)
    AND A.start_date <= P.start_date
  GROUP BY P.person_id, P.event_id
  HAVING COUNT(A.event_id) >= 1
  ) CQ ON E.person_id = CQ.person_id AND E.event_id = CQ.event_id
  GROUP BY E.person_id, E.event_id
  HAVING COUNT(CQ.event_id) = 1
) R
) AS src;

DROP TABLE IF EXISTS [#snap__included];

SELECT * INTO [#snap__included] FROM (
SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date, visit_occurrence_id
FROM (
  SELECT Q.*, row_number() OVER (PARTITION BY Q.person_id ORDER BY Q.start_date ASC, Q.event_id) AS ordinal
  FROM [#snap__qualified] Q
  JOIN (SELECT person_id, event_id FROM [#snap__inclusion] GROUP BY person_id, event_id HAVING COUNT(DISTINCT inclusion_rule_id) = 2) M ON M.person_id = Q.person_id AND M.event_id = Q.event_id
) R
) AS src;

DROP TABLE IF EXISTS [#snap];

WITH drug_target AS (
  SELECT de.person_id, CAST(de.drug_exposure_start_date AS DATE) AS start_date, COALESCE(CAST(de.drug_exposure_end_date AS DATE), DATEADD(day, de.days_supply, CAST(de.drug_exposure_start_date AS DATE)), DATEADD(day, 1, CAST(de.drug_exposure_start_date AS DATE))) AS end_date
  FROM drug_exposure de
  JOIN (SELECT DISTINCT person_id FROM [#snap__included]) ip ON de.person_id = ip.person_id
  JOIN [#snap__codesets] cs ON cs.codeset_id = 1 AND de.drug_concept_id = cs.concept_id
  UNION ALL
  SELECT de.person_id, CAST(de.drug_exposure_start_date AS DATE) AS start_date, COALESCE(CAST(de.drug_exposure_end_date AS DATE), DATEADD(day, de.days_supply, CAST(de.drug_exposure_start_date AS DATE)), DATEADD(day, 1, CAST(de.drug_exposure_start_date AS DATE))) AS end_date
  FROM drug_exposure de
  JOIN (SELECT DISTINCT person_id FROM [#snap__included]) ip ON de.person_id = ip.person_id
  JOIN [#snap__codesets] cs ON cs.codeset_id = 1 AND de.drug_source_concept_id = cs.concept_id
),
drug_padded AS (SELECT person_id, start_date, DATEADD(day, 37, end_date) AS end_date FROM drug_target),
drug_marked AS (
  SELECT person_id, start_date, end_date,
    CASE WHEN max(end_date) OVER (PARTITION BY person_id ORDER BY start_date, end_date ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) >= start_date THEN 0 ELSE 1 END AS is_start
  FROM drug_padded
),
drug_grouped AS (
  SELECT person_id, start_date, end_date,
    sum(is_start) OVER (PARTITION BY person_id ORDER BY start_date, is_start DESC, end_date ROWS UNBOUNDED PRECEDING) AS era_idx
  FROM drug_marked
),
drug_eras AS (
  SELECT person_id, min(start_date) AS era_start, max(end_date) AS era_end_padded
  FROM drug_grouped GROUP BY person_id, era_idx
),
strategy_ends AS (
  SELECT et.event_id, et.person_id, DATEADD(day, -30, ER.era_end_padded) AS end_date
  FROM [#snap__included] et JOIN drug_eras ER ON ER.person_id = et.person_id
  WHERE et.start_date >= ER.era_start AND et.start_date <= DATEADD(day, -30, ER.era_end_padded)
),
cohort_ends AS (
  SELECT event_id, person_id, op_end_date AS end_date FROM [#snap__included]
  UNION ALL
  SELECT event_id, person_id, end_date FROM strategy_ends
),
cohort_rows AS (
  SELECT I.person_id, I.start_date, min(CE.end_date) AS end_date
  FROM [#snap__included] I
  JOIN cohort_ends CE ON I.event_id = CE.event_id AND I.person_id = CE.person_id AND CE.end_date >= I.start_date
  GROUP BY I.person_id, I.event_id, I.start_date
),
cohort_padded AS (SELECT person_id, start_date, end_date AS end_date FROM cohort_rows),
cohort_marked AS (
  SELECT person_id, start_date, end_date,
    CASE WHEN max(end_date) OVER (PARTITION BY person_id ORDER BY start_date, end_date ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) >= start_date THEN 0 ELSE 1 END AS is_start
  FROM cohort_padded
),
cohort_grouped AS (
  SELECT person_id, start_date, end_date,
    sum(is_start) OVER (PARTITION BY person_id ORDER BY start_date, is_start DESC, end_date ROWS UNBOUNDED PRECEDING) AS era_idx
  FROM cohort_marked
),
cohort_eras AS (
  SELECT person_id, min(start_date) AS era_start, max(end_date) AS era_end_padded
  FROM cohort_grouped GROUP BY person_id, era_idx
)
SELECT * INTO [#snap] FROM (
SELECT CAST(person_id AS BIGINT) AS subject_id, CAST(CASE WHEN era_start > DATEFROMPARTS(2010, 1, 1) THEN era_start ELSE DATEFROMPARTS(2010, 1, 1) END AS DATE) AS cohort_start_date, CAST(CASE WHEN era_end_padded < DATEFROMPARTS(2019, 12, 31) THEN era_end_padded ELSE DATEFROMPARTS(2019, 12, 31) END AS DATE) AS cohort_end_date
FROM cohort_eras
WHERE CASE WHEN era_start > DATEFROMPARTS(2010, 1, 1) THEN era_start ELSE DATEFROMPARTS(2010, 1, 1) END <= CASE WHEN era_end_padded < DATEFROMPARTS(2019, 12, 31) THEN era_end_padded ELSE DATEFROMPARTS(2019, 12, 31) END
) AS src
ORDER BY subject_id, cohort_start_date;

SELECT COUNT(DISTINCT person_id) AS persons, COUNT(*) AS entries FROM [#snap__qualified];

WITH mg AS (
  SELECT Q.person_id, Q.event_id, Q.start_date,
    COALESCE(CAST(sum(DISTINCT CAST(1 AS BIGINT) << I.inclusion_rule_id) AS BIGINT), CAST(0 AS BIGINT)) AS mask,
    COUNT(DISTINCT I.inclusion_rule_id) AS rule_count, COALESCE(min(I.inclusion_rule_id), 0) AS min_rule_id
  FROM [#snap__qualified] Q LEFT JOIN [#snap__inclusion] I ON I.person_id = Q.person_id AND I.event_id = Q.event_id
  GROUP BY Q.person_id, Q.event_id, Q.start_date
),
ranked AS (
  SELECT mask, row_number() OVER (PARTITION BY person_id ORDER BY rule_count DESC, min_rule_id, start_date, event_id) AS rank_value
  FROM mg
),
rules AS (SELECT s.k, (CAST(1 AS BIGINT) << (s.k + 1)) - 1 AS prefix FROM (SELECT TOP (2) CAST(ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) - 1 AS INT) AS k FROM sys.all_objects) AS s)
SELECT r.k AS rule_index,
  COUNT(CASE WHEN b.rank_value = 1 AND (b.mask & r.prefix) = r.prefix THEN 1 END) AS persons,
  COUNT(CASE WHEN (b.mask & r.prefix) = r.prefix THEN 1 END) AS entries
FROM rules r LEFT JOIN ranked b ON 1 = 1
GROUP BY r.k
ORDER BY r.k;

DROP TABLE IF EXISTS [#snap__codesets];

DROP TABLE IF EXISTS [#snap__qualified];

DROP TABLE IF EXISTS [#snap__inclusion];

DROP TABLE IF EXISTS [#snap__included];
