# The time of day varies from run to run.
\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}	YYYY-MM-DD HH:MM:SS.ffffff
