-- Reference cohort: GiBleed_default_with_descendants.json  (hand-written, independent of node-agent/cohort/)
--
-- Definition (read from the Circe JSON):
--   ConceptSets[0] "gibleed" = {192671 Gastrointestinal hemorrhage}, includeDescendants=TRUE,
--                              no excluded items, includeMapped not set
--   PrimaryCriteria     : ConditionOccurrence with CodesetId 0, no further attributes
--   ObservationWindow   : PriorDays 0, PostDays 0
--   PrimaryCriteriaLimit: First      QualifiedLimit: First      ExpressionLimit: First
--   AdditionalCriteria  : none       InclusionRules: none       CensoringCriteria: none
--   EndStrategy         : none (=> end of the observation period that contains the entry event)
--   CollapseSettings    : ERA, EraPad 0        CensorWindow: {} (none)
--
-- Semantic rules applied (Book of OHDSI, ch. 10 "Defining Cohorts", sections "Cohort entry event",
-- "Observation window", "Limit initial events", "Cohort exit", "Cohort eras";
-- OHDSI circe-be documentation of the Circe cohort expression):
--  R1 Concept set: the listed concepts themselves (must exist in CONCEPT); with includeDescendants
--     also every CONCEPT_ANCESTOR descendant that is valid (invalid_reason IS NULL); excluded items
--     (with their descendants if flagged) are removed.  Here: 192671 plus its valid descendants.
--     (On Eunomia GiBleed, CONCEPT_ANCESTOR lists no descendant of 192671 other than itself, so this
--     definition must give the same cohort as GiBleed_default.)
--  R2 ConditionOccurrence event: a condition_occurrence row whose condition_concept_id is in the
--     concept set; event start = condition_start_date, event end = condition_end_date, or start + 1
--     day when the end is missing.
--  R3 Observation window: the event's start must fall inside one of the person's observation periods
--     (start <= event start <= end), and that period must contain PriorDays before and PostDays after
--     the event: op_start + PriorDays <= event start AND event start + PostDays <= op_end.
--  R4 PrimaryCriteriaLimit First: among the events that passed R3, keep per person the earliest by
--     start date (tie-break: smallest source row id, which cannot change the result here).
--  R5 QualifiedLimit only restricts events when AdditionalCriteria ("qualifying criteria") exist;
--     ExpressionLimit First: after inclusion rules (none here) keep the earliest event per person.
--  R6 No EndStrategy: the cohort exit is the end of the observation period containing the entry.
--  R7 Era collapse with EraPad p: entries of one person whose [start, end + p] spans overlap or touch
--     (next start <= running max(end + p)) merge into one era [min start, max end]; p = 0 here.
WITH
codeset_0 AS (                                   -- R1
  SELECT c.concept_id
  FROM concept c
  WHERE c.concept_id IN (192671)
  UNION
  SELECT c.concept_id
  FROM concept_ancestor ca
  JOIN concept c ON c.concept_id = ca.descendant_concept_id
  WHERE ca.ancestor_concept_id IN (192671)
    AND c.invalid_reason IS NULL
),
condition_events AS (                            -- R2
  SELECT co.condition_occurrence_id AS source_id,
         co.person_id,
         co.condition_start_date AS start_date,
         COALESCE(co.condition_end_date, co.condition_start_date + 1) AS end_date
  FROM condition_occurrence co
  WHERE co.condition_concept_id IN (SELECT concept_id FROM codeset_0)
),
in_window AS (                                   -- R3 (PriorDays 0, PostDays 0)
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
primary_events AS (                              -- R4 First
  SELECT *
  FROM in_window
  QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY start_date, source_id) = 1
),
included_events AS (                             -- R5 (no inclusion rules) + ExpressionLimit First
  SELECT *
  FROM primary_events
  QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY start_date, source_id) = 1
),
cohort_rows AS (                                 -- R6 exit at observation period end
  SELECT person_id, start_date, op_end AS end_date
  FROM included_events
),
flagged AS (                                     -- R7 era collapse, EraPad 0
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
