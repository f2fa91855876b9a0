"""soraflow's composition root: one app, every feature blueprint registered, nothing else."""

import azure.durable_functions as df
import azure.functions as func

from triggers import health

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health.bp)
