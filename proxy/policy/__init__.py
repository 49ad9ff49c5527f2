"""Policy: rules, their precedence, and the verdict they give for an image. Pure, no I/O."""
