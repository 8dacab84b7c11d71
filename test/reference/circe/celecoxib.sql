-- Reference cohort: celecoxib.json  (hand-written, independent of node-agent/cohort/)
--
-- Definition (read from the Circe JSON):
--   ConceptSets[0] "Celecoxib" = {1118084 celecoxib (RxNorm Ingredient)}; includeDescendants absent
--                                (= false), no excluded items
--   PrimaryCriteria     : DrugEra with CodesetId 0, no further attributes
--   ObservationWindow   : PriorDays 0, PostDays 0
--   PrimaryCriteriaLimit: First      QualifiedLimit: First      ExpressionLimit: First
--   AdditionalCriteria  : none       InclusionRules: none       CensoringCriteria: none
--   EndStrategy         : none (=> end of the observation period that contains the entry event)
--   CollapseSettings    : ERA, EraPad 0        CensorWindow: {} (none)
--
-- Semantic rules applied (Book of OHDSI, ch. 10 "Defining Cohorts"; OHDSI circe-be documentation):
--  R1 Concept set: only concept 1118084 (must exist in CONCEPT); a missing includeDescendants flag
--     means false.  DRUG_ERA rows are recorded at ingredient level, so 1118084 matches directly.
--  R2 DrugEra event: a drug_era row whose drug_concept_id is in the concept set;
--     event start = drug_era_start_date, event end = drug_era_end_date.
--  R3 Observation window: event start inside an observation period of the person, with
--     op_start + 0 <= start and start + 0 <= op_end.  Eras starting outside every observation
--     period are not events.
--  R4 PrimaryCriteriaLimit First: of the events that passed R3, the earliest per person.
--  R5 QualifiedLimit applies only with AdditionalCriteria (none); no inclusion rules;
--     ExpressionLimit First keeps the earliest remaining event per person.
--  R6 No EndStrategy: exit at the end of the observation period containing the entry event (not the
--     end of the drug era: the era end would need an explicit CustomEra / DateOffset strategy).
--  R7 Era collapse, EraPad 0.
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
included_events AS (                             -- R5 ExpressionLimit First
  SELECT *
  FROM primary_events
  QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY start_date, source_id) = 1
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
