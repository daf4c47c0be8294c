"""TFLite deployment: masked, dynamic and staged forms, GPU op check."""
