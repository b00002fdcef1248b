// Catalogue: models → components → layers, norms datasets → attribute groups → attributes, concepts and ratings.
import type { ModelKind } from '../../generated/prisma/enums.ts';
import { listConcepts, MAX_CONCEPT_SEARCH_LENGTH } from '../../db/catalogue.ts';
import { conceptSense, conceptWord } from '../../norms/concept-word.ts';
import { BadUserInputError, NotFoundError } from '../errors.ts';
import { parseOptionalId } from '../ids.ts';
import { toConnection } from '../pagination.ts';
import { findById, lookupById, pageOf, related, runPage } from './lookup.ts';
import type {
  AttributeGroupResolvers as AttributeGroupFields,
  AttributeResolvers as AttributeFields,
  ComponentResolvers as ComponentFields,
  ConceptEdgeResolvers as ConceptEdgeFields,
  ConceptResolvers as ConceptFields,
  LayerResolvers as LayerFields,
  ModelResolvers as ModelFields,
  NormsDatasetMembershipResolvers as NormsDatasetMembershipFields,
  NormsDatasetResolvers as NormsDatasetFields,
  QueryResolvers,
  RatingResolvers as RatingFields,
  Resolvers,
} from '../generated/resolvers-types.ts';

const MODEL_KIND_LABELS: Record<ModelKind, string> = {
  STABLE_DIFFUSION: 'Stable Diffusion',
  TINY_TEST_NETWORK: 'Tiny test network (random weights; not Stable Diffusion)',
  WORD_EMBEDDING: 'Word embeddings (no diffusion)',
};

const Query = {
  models: async (_parent, _args, { db, loaders }) => {
    const models = await db.prisma.model.findMany({ orderBy: { name: 'asc' } });
    for (const model of models) loaders.model.prime(model.id, model);
    return models;
  },
  model: lookupById((loaders) => loaders.model, 'model'),
  component: lookupById((loaders) => loaders.component, 'component'),
  layer: lookupById((loaders) => loaders.layer, 'layer'),
  normsDatasets: async (_parent, _args, { db, loaders }) => {
    const datasets = await db.prisma.normsDataset.findMany({ orderBy: [{ name: 'asc' }, { version: 'asc' }] });
    for (const dataset of datasets) loaders.normsDataset.prime(dataset.id, dataset);
    return datasets;
  },
  normsDataset: lookupById((loaders) => loaders.normsDataset, 'norms dataset'),
  attributeGroup: lookupById((loaders) => loaders.attributeGroup, 'attribute group'),
  attribute: lookupById((loaders) => loaders.attribute, 'attribute'),
  concepts: async (_parent, args, context) => {
    const page = pageOf(args, context);
    const normsDatasetId = parseOptionalId(args.normsDatasetId, 'normsDatasetId');
    const search = args.search ?? undefined;
    // Counted in code points only when the UTF-16 length could exceed the bound (cheap for any size).
    if (search !== undefined && search.length > MAX_CONCEPT_SEARCH_LENGTH && [...search].length > MAX_CONCEPT_SEARCH_LENGTH) {
      throw new BadUserInputError('search', `is ${[...search].length} characters long; the maximum is ${MAX_CONCEPT_SEARCH_LENGTH}.`);
    }
    const { rows, total } = await listConcepts(context.db.pool, { normsDatasetId, search }, page);
    return toConnection(rows, total, page);
  },
  concept: async (_parent, { id, word }, { loaders }) => {
    if (id != null && word != null) throw new BadUserInputError('word', 'cannot be combined with `id`: give exactly one of them.');
    if (id != null) return findById(loaders.concept, id, 'concept');
    if (word == null) throw new BadUserInputError('id', 'or `word` is required: give exactly one of them.');
    const concept = await loaders.conceptByWord.load(word);
    if (!concept) throw new NotFoundError('concept', 'word', word);
    return concept;
  },
} satisfies QueryResolvers;

const ModelResolvers = {
  kindLabel: (model) => MODEL_KIND_LABELS[model.kind],
  components: (model, _args, { loaders }) => loaders.componentsByModel.load(model.id),
  extractionRuns: (model, args, context) => runPage(context, args, context.loaders.extractionRunPagesByModel, model.id, context.loaders.extractionRun),
} satisfies ModelFields;

const ComponentResolvers = {
  model: (component, _args, { loaders }) => related(loaders.model, component.modelId, 'model'),
  layers: (component, _args, { loaders }) => loaders.layersByComponent.load(component.id),
} satisfies ComponentFields;

const LayerResolvers = {
  component: (layer, _args, { loaders }) => related(loaders.component, layer.componentId, 'component'),
} satisfies LayerFields;

const NOISE_CEILING_UNAVAILABLE =
  'Norms are imported as mean ratings per concept and attribute, without rater-level data (split halves or ' +
  'individual ratings), so no per-attribute noise ceiling can be computed; see docs/metrics.md §7.';

const NormsDatasetResolvers = {
  versions: (dataset, _args, { loaders }) => loaders.normsDatasetVersionsByName.load(dataset.name),
  attributeGroups: (dataset, _args, { loaders }) => loaders.attributeGroupsByNormsDataset.load(dataset.id),
  attributes: (dataset, _args, { loaders }) => loaders.attributesByNormsDataset.load(dataset.id),
  // The import format (src/norms/) keeps mean ratings only: no dataset can carry what a ceiling needs.
  noiseCeiling: () => ({ available: false, reason: NOISE_CEILING_UNAVAILABLE }),
  concepts: async (dataset, args, context) => {
    const page = pageOf(args, context);
    const { rows, total } = await context.loaders.conceptPagesByNormsDataset(page).load(dataset.id);
    return toConnection(rows, total, page);
  },
} satisfies NormsDatasetFields;

const AttributeGroupResolvers = {
  normsDataset: (group, _args, { loaders }) => related(loaders.normsDataset, group.normsDatasetId, 'norms dataset'),
  attributes: (group, _args, { loaders }) => loaders.attributesByAttributeGroup.load(group.id),
} satisfies AttributeGroupFields;

const AttributeResolvers = {
  attributeGroup: (attribute, _args, { loaders }) => related(loaders.attributeGroup, attribute.attributeGroupId, 'attribute group'),
  normsDataset: (attribute, _args, { loaders }) => related(loaders.normsDataset, attribute.normsDatasetId, 'norms dataset'),
  ratings: async (attribute, args, context) => {
    const page = pageOf(args, context);
    const { rows, total } = await context.loaders.ratingPagesByAttribute(page).load(attribute.id);
    return toConnection(rows, total, page);
  },
} satisfies AttributeFields;

const ConceptResolvers = {
  displayWord: (concept) => conceptWord(concept.word),
  sense: (concept) => conceptSense(concept.word),
  memberships: (concept, _args, { loaders }) => loaders.membershipsByConcept.load(concept.id),
  ratings: async (concept, args, context) => {
    const page = pageOf(args, context);
    const normsDatasetId = parseOptionalId(args.normsDatasetId, 'normsDatasetId') ?? null;
    const { rows, total } = await context.loaders.ratingPagesByConcept(page, normsDatasetId).load(concept.id);
    return toConnection(rows, total, page);
  },
} satisfies ConceptFields;

const NormsDatasetMembershipResolvers = {
  normsDataset: (membership, _args, { loaders }) => related(loaders.normsDataset, membership.normsDatasetId, 'norms dataset'),
} satisfies NormsDatasetMembershipFields;

const RatingResolvers = {
  concept: (rating, _args, { loaders }) => related(loaders.concept, rating.conceptId, 'concept'),
  attribute: (rating, _args, { loaders }) => related(loaders.attribute, rating.attributeId, 'attribute'),
} satisfies RatingFields;

const ConceptEdgeResolvers = {
  category: (edge) => edge.node.category ?? null,
} satisfies ConceptEdgeFields;

export const catalogueResolvers = {
  Query,
  Model: ModelResolvers,
  Component: ComponentResolvers,
  Layer: LayerResolvers,
  NormsDataset: NormsDatasetResolvers,
  AttributeGroup: AttributeGroupResolvers,
  Attribute: AttributeResolvers,
  Concept: ConceptResolvers,
  NormsDatasetMembership: NormsDatasetMembershipResolvers,
  Rating: RatingResolvers,
  ConceptEdge: ConceptEdgeResolvers,
} satisfies Resolvers;
