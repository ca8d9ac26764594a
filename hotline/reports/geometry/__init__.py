"""Grid geometry files for the heat map; sample-120.json is the sample district."""
