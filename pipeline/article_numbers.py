"""The number of a Chinese article, chapter or item: 第三十二条, 第12条, 第１２条 (full-width digits, as some
exports write them), 第十条之一 (an article an amendment inserted). One pattern for every module that finds them
(ingest's wrap joining, the Word reader, the segmenter), in a module of its own: the segmenter's cache key covers
the code it imports, and editing ingest's text code must not make every document be segmented again."""

CN_NUMERAL = "一二三四五六七八九十百千零〇两0-9０-９"
ARTICLE_NUMBER = rf"第[{CN_NUMERAL}]+条(?:之[{CN_NUMERAL}]+)?"
