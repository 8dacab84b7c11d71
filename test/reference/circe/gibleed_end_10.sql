-- Reference cohort: gibleed_end_10.json  (hand-written, independent of node-agent/cohort/)
--
-- Note: gibleed_end_10.json is, field for field, identical to gibleed_all_end_10.json (both appear in
-- the darwin-eu/CDMConnector "cohorts3" example set), so this file applies exactly the same rules.
--
-- Definition (read from the Circe JSON):
--   ConceptSets[0] "gibleed" = {192671 Gastrointestinal hemorrhage}, includeDescendants=false
--   PrimaryCriteria     : ConditionOccurrence with CodesetId 0
--   ObservationWindow   : PriorDays 0, PostDays 0
--   PrimaryCriteriaLimit: All        QualifiedLimit: All        ExpressionLimit: All
--   AdditionalCriteria  : none       InclusionRules: none       CensoringCriteria: none
--   EndStrategy         : DateOffset { DateField: StartDate, Offset: 10 }
--   CollapseSettings    : ERA, EraPad 0        CensorWindow: {} (none)
--
-- Semantic rules applied (Book of OHDSI, ch. 10 "Defining Cohorts", "Cohort exit" = fixed duration
-- relative to the entry event; OHDSI circe-be documentation of the DateOffset end strategy):
--  R1 Concept set: only concept 192671 (must exist in CONCEPT).
--  R2 ConditionOccurrence event: start = condition_start_date, end = condition_end_date (or start + 1).
--  R3 Observation window: event start inside an observation period, op_start + 0 <= start,
--     start + 0 <= op_end.
--  R4 All limits are "All": every event passing R3 is kept.
--  R5 DateOffset end strategy: exit = (event StartDate + 10 days), but never later than the end of
--     the observation period containing the event: least(start + 10, op_end).  A fixed-duration exit
--     replaces (does not add to) the default "end of observation" exit.
--  R6 An exit earlier than the entry is impossible here (offset >= 0, op_end >= start).
--  R7 Era collapse, EraPad 0: overlapping or touching entries of one person merge into one era.
WITH
codeset_0 AS (                                   -- R1
  SELECT c.concept_id
  FROM concept c
  WHERE c.concept_id IN (192671)
),
condition_events AS (                            -- R2
  SELECT co.condition_occurrence_id AS source_id,
         co.person_id,
         co.condition_start_date AS start_date,
         COALESCE(co.condition_end_date, co.condition_start_date + 1) AS end_date
  FROM condition_occurrence co
  WHERE co.condition_concept_id IN (SELECT concept_id FROM codeset_0)
),
primary_events AS (                              -- R3 + R4
  SELECT e.source_id, e.person_id, e.start_date, e.end_date,
         op.observation_period_start_date AS op_start,
         op.observation_period_end_date AS op_end
  FROM condition_events e
  JOIN observation_period op
    ON op.person_id = e.person_id
   AND e.start_date BETWEEN op.observation_period_start_date AND op.observation_period_end_date
  WHERE op.observation_period_start_date + 0 <= e.start_date
    AND e.start_date + 0 <= op.observation_period_end_date
),
cohort_rows AS (                                 -- R5 + R6
  SELECT person_id, start_date, least(start_date + 10, op_end) AS end_date
  FROM primary_events
  WHERE least(start_date + 10, op_end) >= start_date
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
)
SELECT person_id AS subject_id,
       min(start_date) AS cohort_start_date,
       max(end_date) AS cohort_end_date
FROM numbered
GROUP BY person_id, era_no
