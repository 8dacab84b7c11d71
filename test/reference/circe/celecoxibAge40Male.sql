-- Reference cohort: celecoxibAge40Male.json  (hand-written, independent of node-agent/cohort/)
--
-- Definition (read from the Circe JSON):
--   ConceptSets[0] "Celecoxib" = {1118084 celecoxib}; includeDescendants absent (= false)
--   PrimaryCriteria     : DrugEra with CodesetId 0
--   ObservationWindow   : PriorDays 0, PostDays 0
--   PrimaryCriteriaLimit: First      QualifiedLimit: First      ExpressionLimit: First
--   AdditionalCriteria  : none       CensoringCriteria: none
--   InclusionRules      : [0] "Age > 40"      : group ALL, DemographicCriteria { Age: gt 40 }
--                         [1] "Gender = MALE" : group ALL, DemographicCriteria { Gender: [8507 MALE] }
--   EndStrategy         : none (=> end of the observation period that contains the entry event)
--   CollapseSettings    : ERA, EraPad 0        CensorWindow: {} (none)
--
-- Semantic rules applied (Book of OHDSI, ch. 10 "Defining Cohorts", "Inclusion criteria";
-- OHDSI circe-be documentation of demographic criteria):
--  R1 Concept set: only concept 1118084.
--  R2 DrugEra event: start = drug_era_start_date, end = drug_era_end_date.
--  R3 Observation window 0/0: event start inside an observation period of the person.
--  R4 PrimaryCriteriaLimit First: earliest in-window event per person, before inclusion rules.
--  R5 QualifiedLimit: only with AdditionalCriteria (none) -> no restriction.
--  R6 Inclusion rules are combined with AND (an event enters only if it satisfies every rule):
--     rule 0: year(event start) - year_of_birth > 40 (Circe age = difference of calendar years);
--     rule 1: person.gender_concept_id IN (8507).
--  R7 ExpressionLimit First.   R8 Exit at observation period end.   R9 Era collapse, EraPad 0.
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
qualified_events AS (                            -- R5
  SELECT * FROM primary_events
),
rule_0_age_gt_40 AS (                            -- R6, rule 0
  SELECT q.source_id, q.person_id
  FROM qualified_events q
  JOIN person p ON p.person_id = q.person_id
  WHERE year(q.start_date) - p.year_of_birth > 40
),
rule_1_male AS (                                 -- R6, rule 1
  SELECT q.source_id, q.person_id
  FROM qualified_events q
  JOIN person p ON p.person_id = q.person_id
  WHERE p.gender_concept_id IN (8507)
),
included_events AS (                             -- R6 (every rule) + R7 ExpressionLimit First
  SELECT q.*
  FROM qualified_events q
  WHERE EXISTS (SELECT 1 FROM rule_0_age_gt_40 r WHERE r.source_id = q.source_id AND r.person_id = q.person_id)
    AND EXISTS (SELECT 1 FROM rule_1_male r WHERE r.source_id = q.source_id AND r.person_id = q.person_id)
  QUALIFY row_number() OVER (PARTITION BY q.person_id ORDER BY q.start_date, q.source_id) = 1
),
cohort_rows AS (                                 -- R8
  SELECT person_id, start_date, op_end AS end_date
  FROM included_events
),
flagged AS (                                     -- R9, EraPad 0
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
