-- Reference cohort: celecoxibCensored.json  (hand-written, independent of node-agent/cohort/)
--
-- Definition (read from the Circe JSON):
--   ConceptSets[0] "Celecoxib" = {1118084 celecoxib}; includeDescendants absent (= false)
--   PrimaryCriteria     : DrugEra with CodesetId 0
--   ObservationWindow   : PriorDays 0, PostDays 0
--   PrimaryCriteriaLimit: First      QualifiedLimit: First      ExpressionLimit: First
--   AdditionalCriteria  : none       InclusionRules: none       CensoringCriteria: none
--   EndStrategy         : none (=> end of the observation period that contains the entry event)
--   CollapseSettings    : ERA, EraPad 0
--   CensorWindow        : { StartDate: "2000-01-01" }  (no EndDate)
--
-- Semantic rules applied (Book of OHDSI, ch. 10 "Defining Cohorts"; OHDSI circe-be documentation of
-- the censor window, ATLAS "Restrict the cohort to the date range"):
--  R1..R7 exactly as in celecoxib.sql: concept 1118084 only; DrugEra events; observation window 0/0;
--     PrimaryCriteriaLimit First (earliest in-window era); no qualifying criteria, no rules;
--     ExpressionLimit First; exit at the end of the observation period; era collapse with EraPad 0.
--  R8 Censor window, applied last to the collapsed cohort eras: every era is clipped to the window,
--     start = greatest(start, window start), end = least(end, window end); an era that lies wholly
--     outside the window (clipped start > clipped end) is dropped.  The window does NOT move the index
--     event: the entry event is still the person's first celecoxib era, even if it lies before
--     2000-01-01 (the era is then clipped to begin on 2000-01-01).
WITH
codeset_0 AS (                                   -- R1
  SELECT c.concept_id
  FROM concept c
  WHERE c.concept_id IN (1118084)
),
drug_era_events AS (                             -- R2
  SELECT de.drug_era_id AS source_id,
         de.person_id,
         de.drug_era_start_date AS start_date,
         de.drug_era_end_date AS end_date
  FROM drug_era de
  WHERE de.drug_concept_id IN (SELECT concept_id FROM codeset_0)
),
in_window AS (                                   -- R3
  SELECT e.source_id, e.person_id, e.start_date, e.end_date,
         op.observation_period_start_date AS op_start,
         op.observation_period_end_date AS op_end
  FROM drug_era_events e
  JOIN observation_period op
    ON op.person_id = e.person_id
   AND e.start_date BETWEEN op.observation_period_start_date AND op.observation_period_end_date
  WHERE op.observation_period_start_date + 0 <= e.start_date
    AND e.start_date + 0 <= op.observation_period_end_date
),
primary_events AS (                              -- R4 First
  SELECT *
  FROM in_window
  QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY start_date, source_id) = 1
),
included_events AS (                             -- R5 + R6 ExpressionLimit First
  SELECT *
  FROM primary_events
  QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY start_date, source_id) = 1
),
cohort_rows AS (                                 -- R6 exit at observation period end
  SELECT person_id, start_date, op_end AS end_date
  FROM included_events
),
flagged AS (                                     -- R7, EraPad 0
  SELECT person_id, start_date, end_date,
         CASE WHEN max(end_date + 0) OVER (PARTITION BY person_id ORDER BY start_date, end_date
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) >= start_date
              THEN 0 ELSE 1 END AS starts_era
  FROM cohort_rows
),
numbered AS (
  SELECT *, sum(starts_era) OVER (PARTITION BY person_id ORDER BY start_date, end_date
                                  ROWS UNBOUNDED PRECEDING) AS era_no
  FROM flagged
),
eras AS (
  SELECT person_id, min(start_date) AS start_date, max(end_date) AS end_date
  FROM numbered
  GROUP BY person_id, era_no
),
censored AS (                                    -- R8, window [2000-01-01, open)
  SELECT person_id,
         greatest(start_date, DATE '2000-01-01') AS start_date,
         end_date
  FROM eras
)
SELECT person_id AS subject_id,
       start_date AS cohort_start_date,
       end_date AS cohort_end_date
FROM censored
WHERE start_date <= end_date
