"""The offline engine (Pulumi mocks with realistic cloud answers) and the render command."""
