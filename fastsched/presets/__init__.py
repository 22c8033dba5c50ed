"""Named schedules, one module per home library: each declares its presets and builds their segments."""
