module example.invalid/sentinel-scan

go 1.19
