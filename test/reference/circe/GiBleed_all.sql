-- Reference cohort: GiBleed_all.json  (hand-written, independent of node-agent/cohort/)
--
-- Definition (read from the Circe JSON):
--   ConceptSets[0] "gibleed" = {192671 Gastrointestinal hemorrhage}, includeDescendants=false
--   PrimaryCriteria     : ConditionOccurrence with CodesetId 0
--   ObservationWindow   : PriorDays 0, PostDays 0
--   PrimaryCriteriaLimit: All        QualifiedLimit: First      ExpressionLimit: All
--   AdditionalCriteria  : none       InclusionRules: none       CensoringCriteria: none
--   EndStrategy         : none (=> end of the observation period that contains the entry event)
--   CollapseSettings    : ERA, EraPad 0        CensorWindow: {} (none)
--
-- Semantic rules applied (Book of OHDSI, ch. 10 "Defining Cohorts"; OHDSI circe-be documentation):
--  R1 Concept set: the listed concept (must exist in CONCEPT); no descendants, no exclusions.
--  R2 ConditionOccurrence event: start = condition_start_date, end = condition_end_date (or start + 1).
--  R3 Observation window: event start inside an observation period of the person, with
--     op_start + PriorDays <= start and start + PostDays <= op_end (both 0 here).
--  R4 PrimaryCriteriaLimit All: every event that passed R3 is an initial event.
--  R5 QualifiedLimit "First" limits the events that satisfy the *qualifying* (additional) criteria.
--     Circe applies it only when AdditionalCriteria are present (ATLAS shows "limit qualifying events"
--     only together with qualifying criteria; circe-be CohortExpressionQueryBuilder: "Only apply
--     qualified limit filter if additional criteria is specified").  There are none here, so it does
--     not restrict anything.  ExpressionLimit All: no limit after the (absent) inclusion rules.
--     [Unsure point, documented: a reader who applied QualifiedLimit First anyway would keep only the
--     first event per person; on GiBleed every person has exactly one GI-bleed record, so the counts
--     coincide; the fixture test in circe-reference.test.ts pins the Circe behaviour.]
--  R6 No EndStrategy: exit at the end of the observation period containing the event.
--  R7 Era collapse, EraPad 0: entries of a person that overlap or touch merge into one era.
--     Two events in the SAME observation period both end at that period's end and thus always merge
--     into one era starting at the earlier event; events in different periods stay separate.
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
primary_events AS (                              -- R3 + R4 (All)
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
included_events AS (                             -- R5: no qualifying criteria, no rules, limit All
  SELECT * FROM primary_events
),
cohort_rows AS (                                 -- R6
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
)
SELECT person_id AS subject_id,
       min(start_date) AS cohort_start_date,
       max(end_date) AS cohort_end_date
FROM numbered
GROUP BY person_id, era_no
