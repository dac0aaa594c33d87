/**
 * The run report from the metrics records, with no plotting dependency: records.ts takes the data from the records
 * (and parses `metrics.jsonl`), scales.ts holds the series type and tick helpers, svg.ts draws, page.ts assembles
 * `report.html` and writes the files (`renderReport` pure, `writeReport` into a directory).
 */
export { renderReport, writeReport, type RenderedReport } from './page';
export { currentHistory, parseMetricsJsonl, quantile, topPercent } from './records';
export { niceTicks, type Series } from './scales';
export { escapeXml, histogramSvg, lineChartSvg, type HistogramSet } from './svg';
