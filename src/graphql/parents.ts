// The parent value each SDL object type's resolvers really receive, where it is not the SDL type
// itself: Prisma rows, the hand-written SQL rows of src/db/, the grid's results and the stored
// timings read into shape. codegen.ts maps the SDL types to these (typescript-resolvers `mappers`),
// so the generated `Resolvers` type checks each resolver's parent, arguments and result against
// what the data layer returns. Types only; the generated file imports nothing else of the project
// but the context.
import type {
  Attribute,
  AttributeGroup,
  Component,
  Concept,
  DatasetConcept,
  ExtractionRun,
  Layer,
  Model,
  NormsDataset,
  ProbeGroupScore,
  ProbeRun,
} from '../generated/prisma/client.ts';
import type { ConceptRow, ProbeCellRow, ProbeScoreRow, RatingRow } from '../db/catalogue.ts';
import type { JobRecord, RunRef, WorkerRecord } from '../db/job-reads.ts';
import type { Axis, AxisValue, BestCell, ChanceLevel, GridCell, GridResult } from '../grid/index.ts';
import type { Edge } from './pagination.ts';
import type { pipelineExtractionTimings, probeRunTimings, wordEmbeddingExtractionTimings } from './resolvers/timings.ts';

export type ModelParent = Model;
export type ComponentParent = Component;
export type LayerParent = Layer;
export type NormsDatasetParent = NormsDataset;
export type AttributeGroupParent = AttributeGroup;
export type AttributeParent = Attribute;
/** A Prisma row (by id or word) or a concept list's row: both carry what the fields read. */
export type ConceptParent = Pick<Concept, 'id' | 'word'>;
/** A concept list's edge: its node's category in the list's dataset (absent outside one). */
export type ConceptEdgeParent = Edge<ConceptParent & Partial<Pick<ConceptRow, 'category'>>>;
export type NormsDatasetMembershipParent = DatasetConcept;
export type RatingParent = RatingRow;

export type ExtractionRunParent = ExtractionRun;
export type ProbeRunParent = ProbeRun;
export type ProbeCellParent = ProbeCellRow;
export type ProbeScoreParent = ProbeScoreRow;
export type ProbeGroupScoreParent = ProbeGroupScore;
export type PipelineExtractionTimingsParent = ReturnType<typeof pipelineExtractionTimings>;
export type WordEmbeddingExtractionTimingsParent = ReturnType<typeof wordEmbeddingExtractionTimings>;
/** A skipped cell as read from its run's timings: a layer id, not the layer. */
export type SkippedProbeCellParent = ReturnType<typeof probeRunTimings>['skippedCells'][number];

/** The grid's statistics names (`n`, `size`); the API's names are given by the grid resolvers. */
export type GridParent = GridResult;
export type GridCellParent = GridCell;
export type ChanceLevelParent = ChanceLevel;
export type GridAxisParent = Axis;
/** An axis value; on a POOLING axis it also carries its pooling (the stored name). */
export type GridAxisValueParent = AxisValue & { pooling?: string };
export type BestCellParent = BestCell;

/** The job queue's rows (src/db/job-reads.ts); a run's jobs are looked up by the run's kind and id. */
export type JobParent = JobRecord;
export type WorkerParent = WorkerRecord;
export type RunJobsParent = RunRef;
/** One live event: the run's row as read for it (exactly one of the two is set). */
export type RunProgressParent = { extractionRun: ExtractionRun | null; probeRun: ProbeRun | null };
