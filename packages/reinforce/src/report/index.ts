/**
 * The run report from the metrics records, with no plotting dependency: records.ts takes the data from the records
 * (and parses `metrics.jsonl`), scales.ts decides what shares a chart and each chart's axis, svg.ts draws, page.ts
 * assembles `report.html` and writes the files (`renderReport` pure, `writeReport` into a directory).
 */
export { renderReport, writeReport, type RenderedReport } from './page';
export { currentHistory, parseMetricsJsonl, quantile, topPercent } from './records';
export {
  yAxis,
  layoutByScale,
  niceTicks,
  NOT_APPLICABLE,
  type Axis,
  type ScaleGroup,
  type ScaleLayout,
  type Series,
} from './scales';
export { escapeXml, histogramSvg, lineChartSvg, type ChartOptions, type HistogramSet } from './svg';
